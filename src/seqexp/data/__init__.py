"""Data layer: readers (one per file format), vocabularies, batching and LightningDataModules."""
