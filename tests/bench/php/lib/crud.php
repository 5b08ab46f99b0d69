<?php
// Gap filled: sync.php imports ADDED_ROWS, UPDATED_ROWS and REMOVED_ROWS from Bryntum\CRUD,
// which the guide never defines.  Bit flags, since sync.php combines them with |.

namespace Bryntum\CRUD;

const ADDED_ROWS = 1;
const UPDATED_ROWS = 2;
const REMOVED_ROWS = 4;
