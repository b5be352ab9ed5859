// SwiftPM links a debug executable with its `main` aliased to `<module>_main` (so that tests can
// import executables); a fuzz target has no Swift main, so this one hands over to libFuzzer's driver
// as libFuzzer's own main would. (Release builds do not alias main and use libFuzzer's directly.)

@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("flowhound_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, { fuzz($0, $1) })
}
