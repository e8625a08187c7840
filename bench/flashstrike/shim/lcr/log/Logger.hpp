// Case shim: Wirekrak 66c130b's recovery/manager.hpp includes "lcr/log/Logger.hpp" but the file in
// the tree is include/lcr/log/logger.hpp (fails on case-sensitive file systems). Fixed upstream later.
#pragma once
#include "lcr/log/logger.hpp"
