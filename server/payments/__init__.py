"""The payments ledger: monthly payment files in, suspension and resumption lists out."""
