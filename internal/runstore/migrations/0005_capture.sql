-- The capture's state (grpipe capture): the version of each review whose
-- rows have landed, so that a review is fetched again only in a new version.
-- It lived in <home>/capture/capture.db; in the run store, two machines
-- sharing PostgreSQL metadata share it. captured_at is RFC 3339 in UTC.
CREATE TABLE captured_reviews (
  review_id   BIGINT PRIMARY KEY,
  version     TEXT NOT NULL,
  batch       TEXT NOT NULL,
  captured_at TEXT NOT NULL
);
