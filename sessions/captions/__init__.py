"""Live captions written by a person (CART): the captioner role, caption lines, WebVTT.

Automatic captions (speech recognition in the media worker) are not built yet; this part
is the human side of issue 14's live captions and the store both would share.
"""
