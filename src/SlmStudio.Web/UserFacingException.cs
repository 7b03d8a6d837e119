namespace SlmStudio.Web;

/// <summary>A problem to show the user as it is (plain English, no stack trace).</summary>
/// <remarks>In the portal's root namespace because services, jobs and pages all raise or show it.</remarks>
public sealed class UserFacingException(string message) : Exception(message);
