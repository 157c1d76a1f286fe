package web

import (
	grpipe "github.com/grpipe/grpipe"
)

// Geometry of the graph view.
const (
	nodeW, nodeH   = 230, 34
	colGap, rowGap = 24, 34
	graphPad       = 16
)

// graphNode is a task placed on the graph.
type graphNode struct {
	ID    string
	X, Y  int
	W, H  int
	State grpipe.State
	Href  string
}

// graphEdge is an edge between two placed tasks.
type graphEdge struct {
	X1, Y1, X2, Y2 int
}

// graphLayout places tasks in rows by their longest distance from a root.
func graphLayout(tasks []TaskNode, states map[string]grpipe.State, href func(string) string) ([]graphNode, []graphEdge, int, int) {
	depth := map[string]int{}
	var visit func(string, map[string]bool) int
	up := map[string][]string{}
	for _, t := range tasks {
		up[t.ID] = t.Upstream
	}
	visit = func(id string, seen map[string]bool) int {
		if d, ok := depth[id]; ok {
			return d
		}
		if seen[id] { // a cycle: the DAG validation forbids it; do not loop
			return 0
		}
		seen[id] = true
		d := 0
		for _, u := range up[id] {
			if v := visit(u, seen) + 1; v > d {
				d = v
			}
		}
		depth[id] = d
		return d
	}
	cols := map[int][]string{}
	maxCol := 0
	for _, t := range tasks {
		d := visit(t.ID, map[string]bool{})
		cols[d] = append(cols[d], t.ID)
		if d > maxCol {
			maxCol = d
		}
	}
	// Top to bottom: one row per depth, the row's tasks side by side and centred.
	maxWide := 0
	for _, ids := range cols {
		if len(ids) > maxWide {
			maxWide = len(ids)
		}
	}
	width := graphPad*2 + maxWide*nodeW + (maxWide-1)*colGap
	pos := map[string]graphNode{}
	var nodes []graphNode
	for c := 0; c <= maxCol; c++ {
		ids := cols[c]
		rowW := len(ids)*nodeW + (len(ids)-1)*colGap
		x0 := (width - rowW) / 2
		for i, id := range ids {
			n := graphNode{ID: id, X: x0 + i*(nodeW+colGap), Y: graphPad + c*(nodeH+rowGap), W: nodeW, H: nodeH,
				State: states[id], Href: href(id)}
			pos[id] = n
			nodes = append(nodes, n)
		}
	}
	var edges []graphEdge
	for _, t := range tasks {
		to := pos[t.ID]
		for _, u := range t.Upstream {
			from := pos[u]
			edges = append(edges, graphEdge{X1: from.X + from.W/2, Y1: from.Y + from.H, X2: to.X + to.W/2, Y2: to.Y - 4})
		}
	}
	height := graphPad*2 + (maxCol+1)*nodeH + maxCol*rowGap
	return nodes, edges, width, height
}
