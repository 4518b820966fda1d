"""Explain mode (issue 19): why each pathway node fired, or did not, for one hook request, with the records
behind every answer, from the very evaluation that made the cards (`run.explain_call`)."""
