"""The frame every page reads: the sidebar, the session's context (model, data, settings), the model catalogue,
data views, the app's configuration, the launcher, warm-up and page style."""
