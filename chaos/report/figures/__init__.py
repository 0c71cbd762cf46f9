"""The report's matplotlib figures, one module per figure; each `draw(...)` writes one PNG or returns None
when its data is absent. Matplotlib is imported inside the functions (through `chaos.report.style`)."""
