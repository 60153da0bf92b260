"""Helpers the e2e tests share: Chromium pages and the app's HTTP API."""
