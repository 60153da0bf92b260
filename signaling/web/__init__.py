"""The browser pages: every page route, their templates and static files."""
