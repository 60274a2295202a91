"""Instructor-side tools: keep notebooks' navigation and release/ in step with course.yml."""
