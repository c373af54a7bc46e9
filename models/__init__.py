"""tortoise-orm models, a module per domain. Migrations live in models/migrations (tortoise's own)."""
