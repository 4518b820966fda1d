"""Population screening (issue 17): the pathway over a whole Bulk FHIR export, on one machine or on Dask.

A room on top of the hook call path, not a second evaluator: each patient's resources become the same
patient-view prefetch a hook call gets, and run through `cds_service.invocation.judge` (gathering -> facts
-> pathway) and `render_cards`, exactly as `invoke` runs them. The flow:

    source.py    the export's files (a folder, fsspec paths/URLs, a manifest): an interface a Bulk Data
                 client can implement later
    split.py     pass 1, one task per file: each line's patient reference found by a byte search (no
                 parse), the line appended to one of N spill partitions on disk (crc32 of the patient)
    judge.py     pass 2, one task per partition: lines grouped by patient; a patient with no line that can
                 put them in the pathway (prefilter.py) is counted as outside it without parsing anything;
                 the others are parsed, judged and classified (gaps.py)
    engine.py    runs the tasks embedded (a process pool) or on a Dask cluster; checkpoints are the finished
                 files and partitions, so `--resume` (or Dask's retry of a lost worker's task) redoes only those
    outputs.py   the output folder (DetectedIssue / GuidanceResponse NDJSON, CSV, Parquet, summary.json,
                 report.html, manifest.json), written in a temporary folder and renamed into place
"""
