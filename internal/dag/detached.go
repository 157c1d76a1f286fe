package dag

import "errors"

// ErrDetached is the error of a try an executor stopped waiting for while
// the try goes on where it runs (the distributed executor, when the
// scheduler stops: the try goes on on its worker). The runner leaves such a
// try recorded running and its task queued; a later execution of the run,
// by whichever scheduler leads then, waits for the same try.
var ErrDetached = errors.New("the try goes on where it runs; a later execution of the run waits for it")
