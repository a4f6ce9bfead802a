"""What the tests share, laid out like the app: data factories and the API client
(``factories``), the files attachments leave on disk (``files``), the permission-matrix
engine (``matrix``) and the signal recorder (``signals``)."""
