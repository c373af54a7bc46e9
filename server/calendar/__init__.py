"""The working-day calendar: statutory holidays, make-up working days and administrators' overrides."""
