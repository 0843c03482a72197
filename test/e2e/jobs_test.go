package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
)

// A tenant's Job finishes on the local host as the host's own Jobs do: the
// host copies of its pods name their virtual controller's kind, which KWOK
// completes like pods of a host Job (found by the upstream conformance
// tests of Jobs, which passed on the host and hung on virtual clusters).
func TestSyncerCompletesJobs(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "jobs", lifecycle.CreateOptions{})
	ctx := context.Background()
	completions := int32(3)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch"},
		Spec: batchv1.JobSpec{
			Completions: &completions,
			Parallelism: &completions,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "registry.k8s.io/pause:3.10"}},
			}},
		},
	}
	if _, err := client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "the virtual Job to complete", func() (bool, error) {
		j, err := client.BatchV1().Jobs("default").Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return j.Status.Succeeded == completions && j.Status.CompletionTime != nil,
			fmt.Errorf("%d succeeded, %d active", j.Status.Succeeded, j.Status.Active)
	})
	hostPods, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: names.LabelVirtualCluster + "=jobs"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range hostPods.Items {
		if got := p.Annotations[names.AnnotationVirtualOwnerKind]; got != "Job" {
			t.Errorf("host pod %s: %s = %q, want Job", p.Name, names.AnnotationVirtualOwnerKind, got)
		}
	}
}
