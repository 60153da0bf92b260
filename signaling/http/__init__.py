"""What every handler leans on: errors, validation, pagination, lookups, rate limits, metrics."""
