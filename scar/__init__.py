"""scar: build, score and publish SCaR (Segmentation-and-Scene Caption Retrieval).

``import scar`` is light: it never imports torch or transformers. Heavy parts
(model wrappers, the local LLM server) are imported lazily where they are used.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
