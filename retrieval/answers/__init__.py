"""Answer composition: answers and briefs from ranked atoms, follow-ups, highlights, polish."""
