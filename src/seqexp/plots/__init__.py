"""Pictures of runs: figures drawn from plain numbers (``figures``) and self-contained HTML pages (``html``). A floor
beneath ``run`` and ``tools``: it imports nothing of seqexp's."""
