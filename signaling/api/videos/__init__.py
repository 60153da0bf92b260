"""Videos: listing, detail, edit, delete, publish, view reports, and their processed files."""
