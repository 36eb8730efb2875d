"""Exams: definitions (versioned, frozen once published), assembly of a learner's form, eligibility."""
