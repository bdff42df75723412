# utpost_cc_test(NAME name SRCS a.cc ... DEPS lib ... [LABELS l ...] [ONE_PROCESS])
# One GoogleTest executable. Its tests are discovered by CTest one by one,
# or, with ONE_PROCESS, run as one CTest test in one process (for suites
# that share an expensive fixture such as a broker started once per suite).
function(utpost_cc_test)
  cmake_parse_arguments(T "ONE_PROCESS" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} utpost_testing GTest::gmock GTest::gtest_main)
  set(labels unit)
  if(T_LABELS)
    set(labels ${T_LABELS})
  endif()
  if(T_ONE_PROCESS)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${labels}" TIMEOUT 600)
  else()
    gtest_discover_tests(${T_NAME}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      PROPERTIES LABELS "${labels}"
      DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
