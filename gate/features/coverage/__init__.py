"""Line coverage from Cobertura, LCOV, JaCoCo and coverage.py JSON reports, and its features."""
