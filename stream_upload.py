#!/usr/bin/env python3
"""Upload videos to Cloudflare Stream, resumably (tus); see ops/upload.py and the README.

python stream_upload.py --file PATH --name "SOM 12.01 - Introduction"
python stream_upload.py --lesson content/modules/<dir>/<lesson>.md
python stream_upload.py --all [--content DIR]
"""

from __future__ import annotations

import sys

from ops.upload import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="stream_upload.py"))
