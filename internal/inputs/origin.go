package inputs

import (
	"fmt"
	"strings"
)

// HeadOrigin is where a pull request's head branch lives, as far as the
// event payload proves it. Only SameRepository is a proof; every decision
// that trusts the head (push: auto, a branch name becoming a tag) treats
// Unproven as Fork: a payload we cannot read keeps the run on the safe
// side (GitHub sends head.repo null once the fork is deleted, for one).
type HeadOrigin int

const (
	// NoPullRequest: the event is not about a pull request (push,
	// workflow_dispatch, workflow_run, merge_group, ...): its branch, if
	// any, is this repository's.
	NoPullRequest HeadOrigin = iota
	// SameRepository: head.repo and base.repo are both present, name the
	// same repository (full_name and id) and the head is not a fork.
	SameRepository
	// Fork: the payload names another repository as the head's.
	Fork
	// Unproven: a pull request whose payload proves neither, e.g. a
	// null head.repo, a missing id, an id given as a string.
	Unproven
)

func (o HeadOrigin) String() string {
	switch o {
	case NoPullRequest:
		return "no pull request"
	case SameRepository:
		return "same repository"
	case Fork:
		return "fork"
	case Unproven:
		return "unproven"
	}
	return fmt.Sprintf("HeadOrigin(%d)", int(o))
}

// headOrigin reads from the event payload where the pull request's head
// lives; why says what the payload lacks when it is Unproven. An event is
// about a pull request when its name says so (pull_request,
// pull_request_target, pull_request_review, pull_request_review_comment,
// and any pull_request_* GitHub adds) or its payload has a pull_request
// key, whatever its value: both must then prove the same repository.
// workflow_run (its pull_requests are the triggering run's) and
// merge_group (the queue's branch is in this repository) are not.
func headOrigin(eventName string, event map[string]any) (origin HeadOrigin, why string) {
	value, hasPR := event["pull_request"]
	if !hasPR && !strings.HasPrefix(eventName, "pull_request") {
		return NoPullRequest, ""
	}
	pr, ok := value.(map[string]any)
	if !ok {
		return Unproven, "the event payload has no pull_request object"
	}
	head, ok := pr["head"].(map[string]any)
	if !ok {
		return Unproven, "pull_request.head is missing"
	}
	base, ok := pr["base"].(map[string]any)
	if !ok {
		return Unproven, "pull_request.base is missing"
	}
	headRepo, ok := head["repo"].(map[string]any)
	if !ok {
		return Unproven, "pull_request.head.repo is null, as GitHub sends it once the head's fork is deleted"
	}
	baseRepo, ok := base["repo"].(map[string]any)
	if !ok {
		return Unproven, "pull_request.base.repo is null"
	}
	return sameRepository(headRepo, baseRepo)
}

// sameRepository compares a pull request's head and base repositories.
// GitHub's owner and repository names are case-insensitive (Acme/Widget and
// acme/widget are one repository), so full_name is compared without case;
// the numeric id, which no rename changes, must be equal too.
func sameRepository(headRepo, baseRepo map[string]any) (HeadOrigin, string) {
	headName, _ := headRepo["full_name"].(string)
	baseName, _ := baseRepo["full_name"].(string)
	switch {
	case headName == "":
		return Unproven, "pull_request.head.repo.full_name is missing"
	case baseName == "":
		return Unproven, "pull_request.base.repo.full_name is missing"
	case !strings.EqualFold(headName, baseName):
		return Fork, ""
	}
	// encoding/json gives every JSON number as a float64: an id sent as a
	// string is no id.
	headID, headOK := headRepo["id"].(float64)
	baseID, baseOK := baseRepo["id"].(float64)
	switch {
	case !headOK || !baseOK:
		return Unproven, "pull_request.head.repo.id or base.repo.id is not a number"
	case headID != baseID:
		return Fork, ""
	}
	fork, ok := headRepo["fork"].(bool)
	switch {
	case !ok:
		return Unproven, "pull_request.head.repo.fork is not true or false"
	case fork:
		// A pull request between two branches of a repository that is
		// itself a fork: the same repository, but the payload marks the
		// head as a fork, and a payload that says fork is not a proof.
		return Unproven, "pull_request.head.repo is marked as a fork"
	}
	return SameRepository, ""
}
