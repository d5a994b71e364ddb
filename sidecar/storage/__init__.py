"""Where the data lives: the engine chosen by URL, a thin dialect over it, and one connection idiom for every store."""
