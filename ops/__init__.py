"""Operator commands: learners on the local database, Worker staging, Stream uploads and keys.

They run on the operator's machine, never in the Worker; `build.py` and `stream_upload.py` parse
the command line and call them.
"""
