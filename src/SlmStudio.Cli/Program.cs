using SlmStudio.Cli;

// Ctrl+C and SIGTERM ask the command to stop cleanly (training writes a checkpoint first). Not disposed: the
// handlers can fire while the process is exiting.
var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cts.Cancel();
});
return await SlmCommandLine.RunAsync(args, cts.Token);
