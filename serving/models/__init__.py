"""Where models come from and how they are held: the one load lifecycle, the store, and the two modes."""
