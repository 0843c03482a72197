// Command nest runs virtual Kubernetes clusters. Everything lives in pkg/.
package main

import "github.com/nestcluster/nest/pkg/cmd/app"

func main() {
	app.Main()
}
