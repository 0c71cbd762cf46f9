"""Reports of a run: journal.json (journal.py), and from journals a self-contained HTML page, a Markdown
summary for pull requests and matplotlib figures (render.py). Importing this package loads neither
matplotlib nor Jinja2."""
from chaos.report.render import ReportFiles, render_report
from chaos.report.view import JournalError, RunView, read_journal

__all__ = ["JournalError", "ReportFiles", "RunView", "read_journal", "render_report"]
