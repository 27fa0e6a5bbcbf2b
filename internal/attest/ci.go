package attest

import (
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
)

// LocalBuilderID is runDetails.builder.id outside a CI that oci-assemble
// knows: a person's machine, or a CI whose variables it does not read.
// Nothing vouches for such a builder; policies should not trust it.
const LocalBuilderID = "https://github.com/oci-assemble/oci-assemble/local"

// gitHubBuilderPrefix is the builder id GitHub's own build provenance
// gives Actions runners, followed by RUNNER_ENVIRONMENT (github-hosted or
// self-hosted), so one policy can match both tools' statements.
const gitHubBuilderPrefix = "https://github.com/actions/runner"

// runContext is what the CI says about this run.
type runContext struct {
	builderID    string
	invocationID string
	// workflow is the CI configuration that ran oci-assemble, an external
	// parameter: whoever can change it chose the inputs.
	workflow map[string]any
	// internal holds the CI's own identifiers of the run.
	internal map[string]any
	// source is the commit the run was for.
	source *intoto.ResourceDescriptor
}

// readRun names the builder and the run from the CI's variables.
func readRun(getenv func(string) string) (runContext, error) {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return gitHubRun(getenv)
	case getenv("GITLAB_CI") == "true":
		return gitLabRun(getenv)
	}
	return runContext{builderID: LocalBuilderID}, nil
}

// need reads variables that must be set, naming the first one missing.
func need(getenv func(string) string, ci string, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, n := range names {
		v := getenv(n)
		if v == "" {
			return nil, fmt.Errorf("%s sets no %s; provenance needs it to name the run; keep the CI's variables in the job's environment", ci, n)
		}
		if err := checkText(n, v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

// optional copies the variables that are set, under their names in lower
// case, into m.
func optional(getenv func(string) string, m map[string]any, names ...string) {
	for _, n := range names {
		if v := getenv(n); v != "" {
			m[strings.ToLower(n)] = v
		}
	}
}

// gitHubRun follows GitHub's build provenance for Actions: builder
// https://github.com/actions/runner/<RUNNER_ENVIRONMENT>, invocation the
// run's URL with its attempt, the repository at GITHUB_SHA as source.
// https://docs.github.com/en/actions/reference/workflows-and-actions/variables
func gitHubRun(getenv func(string) string) (runContext, error) {
	v, err := need(getenv, "GitHub Actions", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT")
	if err != nil {
		return runContext{}, err
	}
	repoURL := strings.TrimSuffix(v["GITHUB_SERVER_URL"], "/") + "/" + v["GITHUB_REPOSITORY"]
	run := runContext{
		builderID:    gitHubBuilderPrefix,
		invocationID: repoURL + "/actions/runs/" + v["GITHUB_RUN_ID"] + "/attempts/" + v["GITHUB_RUN_ATTEMPT"],
		workflow:     map[string]any{"repository": repoURL},
		internal:     map[string]any{},
	}
	if env := getenv("RUNNER_ENVIRONMENT"); env == "github-hosted" || env == "self-hosted" {
		run.builderID += "/" + env
	}
	optional(getenv, run.workflow, "GITHUB_WORKFLOW_REF", "GITHUB_WORKFLOW_SHA", "GITHUB_REF", "GITHUB_EVENT_NAME")
	optional(getenv, run.internal, "GITHUB_REPOSITORY_ID", "GITHUB_REPOSITORY_OWNER_ID", "RUNNER_ENVIRONMENT", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB")
	run.source = sourceCommit(repoURL, getenv("GITHUB_REF"), getenv("GITHUB_SHA"))
	return run, nil
}

// gitLabRun follows npm's provenance for GitLab CI: builder
// <project URL>/-/runners/<CI_RUNNER_ID>, invocation the job's URL.
// https://docs.gitlab.com/ci/variables/predefined_variables/
func gitLabRun(getenv func(string) string) (runContext, error) {
	v, err := need(getenv, "GitLab CI", "CI_SERVER_URL", "CI_PROJECT_PATH", "CI_JOB_URL", "CI_RUNNER_ID")
	if err != nil {
		return runContext{}, err
	}
	projectURL := strings.TrimSuffix(v["CI_SERVER_URL"], "/") + "/" + v["CI_PROJECT_PATH"]
	run := runContext{
		builderID:    projectURL + "/-/runners/" + v["CI_RUNNER_ID"],
		invocationID: v["CI_JOB_URL"],
		workflow:     map[string]any{"repository": projectURL},
		internal:     map[string]any{},
	}
	optional(getenv, run.workflow, "CI_CONFIG_PATH", "CI_JOB_NAME", "CI_COMMIT_REF_NAME", "CI_PIPELINE_SOURCE")
	optional(getenv, run.internal, "CI_PROJECT_ID", "CI_PIPELINE_ID", "CI_JOB_ID", "CI_RUNNER_ID", "CI_RUNNER_VERSION", "CI_SERVER_VERSION")
	ref := ""
	switch {
	case getenv("CI_COMMIT_TAG") != "":
		ref = "refs/tags/" + getenv("CI_COMMIT_TAG")
	case getenv("CI_COMMIT_BRANCH") != "":
		ref = "refs/heads/" + getenv("CI_COMMIT_BRANCH")
	}
	run.source = sourceCommit(projectURL, ref, getenv("CI_COMMIT_SHA"))
	return run, nil
}

// sourceCommit is the repository at the run's commit, as SLSA's git
// convention writes it: git+<URL>@<ref>, digest gitCommit. A commit that
// is not 40 hex characters (a SHA-256 repository) is named by URI only,
// since in-toto's gitCommit digest is SHA-1 sized.
// https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md
func sourceCommit(repoURL, ref, sha string) *intoto.ResourceDescriptor {
	if sha == "" {
		return nil
	}
	uri := "git+" + repoURL
	if ref != "" {
		uri += "@" + ref
	}
	rd := &intoto.ResourceDescriptor{Uri: uri}
	if len(sha) == 40 && strings.Trim(strings.ToLower(sha), "0123456789abcdef") == "" {
		rd.Digest = map[string]string{"gitCommit": strings.ToLower(sha)}
	}
	if rd.Validate() != nil || checkText("commit URI", uri) != nil {
		return nil
	}
	return rd
}
