"""Task heads: LightningModules that share seqexp.tasks.base.SeqTask and differ only in head and metrics."""
