"""E-mail campaigns: compose (drafts, placeholders), render (MIME), ledger and worker."""
