"""Sillon's build pipeline: load config -> discover -> parse -> validate -> render -> write."""
