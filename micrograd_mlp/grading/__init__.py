"""Grading a student's work: answers files, hand solutions, slips, exercises, numpy backward passes."""
