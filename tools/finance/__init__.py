"""The business–finance link (业财一体化): vouchers from business documents, their rules, exports and checks."""
