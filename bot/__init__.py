"""bananabot: AI image generation and editing for Discord servers."""

__version__ = "0.1.0"
