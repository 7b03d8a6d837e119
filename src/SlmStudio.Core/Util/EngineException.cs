namespace SlmStudio.Core;

/// <summary>A problem with the user's input or files that the engine explains in plain words (no stack trace needed).</summary>
public class EngineException(string message, Exception? inner = null) : Exception(message, inner);
