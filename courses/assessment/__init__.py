"""Assessment in courses: question sets, attempts (online and queued offline), marking,
item statistics. Other features read results through `selectors.course_passed` and
`selectors.course_assessment_results` only."""
