# Course exercises: `make exercise 2` checks exercises/02-*/work (copied from the starter the
# first time); `make exercise-reset 2` puts a fresh copy of the starter there.
# The number may also be given as N=2. Spanish output when LANG starts with es.
.PHONY: exercise exercise-reset exercises-list

EXERCISE_N = $(or $(N),$(word 2,$(MAKECMDGOALS)))

exercise: setup
	@if [ -z "$(EXERCISE_N)" ]; then echo "usage: make exercise N   (make exercises-list)"; exit 2; fi
	@.venv/bin/python -m course_kit.exercises check $(EXERCISE_N)

exercise-reset: setup
	@if [ -z "$(EXERCISE_N)" ]; then echo "usage: make exercise-reset N"; exit 2; fi
	@.venv/bin/python -m course_kit.exercises reset $(EXERCISE_N)

exercises-list: setup
	@.venv/bin/python -m course_kit.exercises list

# `make exercise 2`: the number arrives as a goal of its own; make it do nothing.
ifneq ($(filter exercise exercise-reset,$(firstword $(MAKECMDGOALS))),)
ifneq ($(word 2,$(MAKECMDGOALS)),)
.PHONY: $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)):
	@:
endif
endif
