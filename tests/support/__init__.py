"""What tests share: the loopback stack, scripted vendors and servers, CSV data, and checks of
delivery, rate limits and deploy files. Test modules import helpers from here, never from each other."""
