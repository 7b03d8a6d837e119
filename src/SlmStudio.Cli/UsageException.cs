namespace SlmStudio.Cli;

/// <summary>Wrong command-line input found after parsing (options that conflict, a path of the wrong kind): printed as
/// one line, exit code 2, like the parser's own errors.</summary>
public sealed class UsageException(string message) : Exception(message);
