namespace SlmStudio.Core;

/// <summary>A problem with the user's input or files that the engine explains in plain words (no stack trace needed).</summary>
public class EngineException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A model folder, configuration or tokenizer that this engine cannot run; the message names what is unsupported.
/// It lives beside <see cref="EngineException"/> because both the model and the tokenizer code throw it, and neither
/// folder should depend on the other for it.
/// </summary>
public sealed class UnsupportedModelException(string message, Exception? inner = null) : EngineException(message, inner);
