"""Pixel change between aligned chips; object change between detection sets."""
