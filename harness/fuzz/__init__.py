"""`harness fuzz`: Hypothesis draws networks from the vocabulary, every selected backend runs
them through the cell runner, and a disagreement is shrunk to a case file the registry keeps."""
