"""Backend for county veterans-affairs offices: annual confirmation and preferential cards."""
