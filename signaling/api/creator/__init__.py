"""The creator dashboard's API: money now, lists, charts, CSV export."""
