"""One run from config to summary: the trainer loop, building, checkpoints, run directories, logging, export."""
